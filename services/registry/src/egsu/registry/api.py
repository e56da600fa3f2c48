"""Registry routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from egsu.auth import Principal, public
from egsu.contracts.regions import REGIONS
from egsu.registry.schemas import RegionRead

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])
Anyone = Annotated[Principal | None, Depends(public)]


@router.get("/regions", summary="Kazakhstan's regions and cities of republican significance (KATO)")
async def list_regions(_: Anyone) -> dict[str, list[RegionRead]]:
    return {"items": [RegionRead.model_validate(r, from_attributes=True) for r in REGIONS]}
