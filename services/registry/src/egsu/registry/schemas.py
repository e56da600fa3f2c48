"""Registry request and response models."""

from __future__ import annotations

from pydantic import BaseModel


class RegionRead(BaseModel):
    kato: str
    name_ru: str
    name_kk: str
    name_en: str
    kind: str
