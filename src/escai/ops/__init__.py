"""Operations: structured logging, metrics, health checks and alerting."""
