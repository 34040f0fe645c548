//! Field types (ECS and a format's `fields.yml`) and the coercion of written values.
