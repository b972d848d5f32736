"""Model endpoints: the request/response types, the ``ModelClient`` protocol and its backends."""

from synthfactory.models.client import ChatRequest, ChatResponse, ModelClient
from synthfactory.models.endpoint import EndpointConfig, parse_endpoint

__all__ = ["ChatRequest", "ChatResponse", "EndpointConfig", "ModelClient", "parse_endpoint"]
