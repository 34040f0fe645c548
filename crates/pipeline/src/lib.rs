//! Sources, sinks, end-to-end acknowledgements and configuration.
