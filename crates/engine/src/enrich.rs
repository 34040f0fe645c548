//! End-of-event enrichments (SPEC §5.4–5.5).
