"""Performance predictor: success probability, failure risk, remaining steps and time, early warning."""
