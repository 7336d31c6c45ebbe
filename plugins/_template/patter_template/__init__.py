"""A carrier plugin skeleton for Patter: copy it and make it speak your carrier's protocol."""

from .carrier import TemplateCarrier

__all__ = ["TemplateCarrier"]
