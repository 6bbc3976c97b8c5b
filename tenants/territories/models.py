"""The territory registry: régions, départements, EPCI and communes (INSEE Code officiel géographique)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.db import Base


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))


class Departement(Base):
    __tablename__ = "departements"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)

    region: Mapped[Region] = relationship(lazy="joined")


class Epci(Base):
    """An EPCI à fiscalité propre (CC, CA, CU, Métropole…), identified by its SIREN."""

    __tablename__ = "epcis"

    siren: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # CC, CA, CU, METRO, MET69
    population: Mapped[int]
    search_key: Mapped[str] = mapped_column(String(200), index=True)

    # By the accent-free key: in French, Déols comes before Diors.
    communes: Mapped[list[Commune]] = relationship(back_populates="epci", order_by="Commune.search_key")

    KIND_LABELS = {
        "CC": "Communauté de communes",
        "CA": "Communauté d'agglomération",
        "CU": "Communauté urbaine",
        "METRO": "Métropole",
        "MET69": "Métropole de Lyon",
    }

    @property
    def kind_label(self) -> str:
        return self.KIND_LABELS.get(self.kind, self.kind)


class Commune(Base):
    __tablename__ = "communes"
    __table_args__ = (
        # Autocomplete ranks a name prefix by population.
        Index("ix_communes_search_population", "search_key", "population"),
    )

    insee: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-case, accent-free, punctuation as spaces: "chateauroux", "saint etienne".
    search_key: Mapped[str] = mapped_column(String(200))
    population: Mapped[int] = mapped_column(index=True)
    postal_codes: Mapped[str] = mapped_column(String(200))  # space-separated
    siren: Mapped[str | None] = mapped_column(String(9))
    departement_code: Mapped[str] = mapped_column(ForeignKey("departements.code"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    epci_siren: Mapped[str | None] = mapped_column(ForeignKey("epcis.siren"), index=True)

    departement: Mapped[Departement] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    epci: Mapped[Epci | None] = relationship(back_populates="communes")

    @property
    def postal_code_list(self) -> list[str]:
        return self.postal_codes.split()
