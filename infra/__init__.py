"""Deployment tooling: deploy/destroy (infra.deploy), the cost model (infra.cost); packaging is infra.package."""
