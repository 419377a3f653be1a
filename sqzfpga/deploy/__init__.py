"""Deployment: Vivado scripts for a board, the deployment package, and `deploy` to a board over SSH."""
