//! The backend client.
