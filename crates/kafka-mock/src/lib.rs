//! An in-process Kafka mock cluster with fault injection, for tests and demos.
