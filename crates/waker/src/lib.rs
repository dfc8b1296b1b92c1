//! waker
