//! Timers for event loops: a hierarchical timing wheel and a lazily-cancelled heap with O(1) cancel.
