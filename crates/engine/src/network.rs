//! Network helpers for templates: Community ID flow hashing.
