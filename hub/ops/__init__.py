"""Operations: health and readiness endpoints, JSON logs, consumer lag, `hub status`, a local Prometheus."""
