"""What every request passes through: the admin token check, body limits, HTTP metrics."""
