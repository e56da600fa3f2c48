"""A test PKI shaped like NCA RK, and a CMS signer that writes what Kalkan writes.

``build_test_pki(folder)`` makes, for RSA and for GOST 34.10-2015 (512 bit), a root, an
intermediate for individuals and one for legal entities, end-entity certificates with NCA RK's
profile (``SERIALNUMBER=IIN…``, ``OU=BIN…``, ``O=…``, policy OIDs, key usage for signing or
authentication, NCA role OIDs in Extended Key Usage), CRLs, and the negative cases: expired,
not yet valid, revoked, authentication-only, and a rogue CA that copies a real CA's name.

``sign_cms`` builds SignedData v1 like Kalkan: the signer certificates embedded, the signer by
issuer and serial, signed attributes contentType, signingTime (UTCTime), messageDigest; GOST with
KZ OIDs, Streebog-512 and r‖s little-endian halves; RSA as sha256WithRSAEncryption.

For tests and demonstrations only: private keys are written unencrypted.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms, core, crl, keys, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from egsu.validation import gost, oids
from egsu.validation.algorithms import digest as compute_digest
from egsu.validation.der import children, contents_of, encoded, tlv

FAMILIES = {
    # family: (key kind, curve, signature OID, digest OID, key parameter set OID)
    "rsa": ("rsa", None, oids.SHA256_WITH_RSA, oids.SHA256, None),
    "gost": (
        "gost",
        "id-tc26-gost-3410-12-512-paramSetA",
        oids.KZ_GOST2015_512_SIG,
        oids.KZ_STREEBOG_512,
        oids.KZ_GOST2015_512_PARAMSET_A,
    ),
    "gost256": (
        "gost",
        "id-tc26-gost-3410-2012-256-paramSetA",
        oids.KZ_GOST2015_256_SIG,
        oids.TC26_STREEBOG_256,
        oids.TC26_256_PARAMSET_A,
    ),
}
CA_NAMES = {
    "root": "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ ({family}) EGSU TEST",
    "individuals": "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ ({family}) EGSU TEST",
    "legal": "ЗАҢДЫ ТҰЛҒАЛАР КУӘЛАНДЫРУШЫ ОРТАЛЫҒЫ ({family}) EGSU TEST",
}


# --- keys ----------------------------------------------------------------------------------------
class _GostParams(core.Sequence):
    _fields = [
        ("paramset", core.ObjectIdentifier),
        ("digest", core.ObjectIdentifier, {"optional": True}),
    ]


class _AlgorithmIdentifier(core.Sequence):
    _fields = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _Spki(core.Sequence):
    _fields = [
        ("algorithm", _AlgorithmIdentifier),
        ("public_key", core.OctetBitString),
    ]


@dataclass
class KeyPair:
    family: str
    rsa_key: rsa.RSAPrivateKey | None = None
    gost_key: gost.GostPrivateKey | None = None

    @classmethod
    def generate(cls, family: str) -> KeyPair:
        kind, curve_name, *_ = FAMILIES[family]
        if kind == "rsa":
            return cls(
                family, rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
            )
        assert curve_name is not None
        return cls(family, gost_key=gost.GostPrivateKey.generate(curve_name))

    @property
    def signature_oid(self) -> str:
        return FAMILIES[self.family][2]

    @property
    def digest_oid(self) -> str:
        return FAMILIES[self.family][3]

    def spki(self) -> bytes:
        if self.rsa_key is not None:
            return self.rsa_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        assert self.gost_key is not None
        paramset = FAMILIES[self.family][4]
        params = _GostParams({"paramset": paramset, "digest": self.digest_oid})
        return _Spki(
            {
                "algorithm": {
                    "algorithm": oids.KZ_GOST2015_KEY,
                    "parameters": core.Any.load(params.dump()),
                },
                "public_key": core.OctetString(self.gost_key.public_key()).dump(),
            }
        ).dump()

    def sign(self, data: bytes) -> bytes:
        if self.rsa_key is not None:
            return self.rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        assert self.gost_key is not None
        return self.gost_key.sign(data)

    def save(self, path: Path) -> None:
        if self.rsa_key is not None:
            path.write_bytes(
                self.rsa_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        else:
            assert self.gost_key is not None
            path.write_text(
                json.dumps(
                    {
                        "family": self.family,
                        "curve": self.gost_key.curve_name,
                        "d": format(self.gost_key.d, "x"),
                    }
                )
            )

    @classmethod
    def load(cls, path: Path, family: str) -> KeyPair:
        raw = path.read_bytes()
        if raw.startswith(b"-----"):
            key = serialization.load_pem_private_key(raw, password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return cls(family, rsa_key=key)
        d = json.loads(raw)
        return cls(d["family"], gost_key=gost.GostPrivateKey(d["curve"], int(d["d"], 16)))


def _key_id(spki: bytes) -> bytes:
    import hashlib

    bits = contents_of(children(spki, 0x30)[1])[1:]
    return hashlib.sha1(bits).digest()  # noqa: S324 - RFC 5280 method 1 key identifier, not security


def _sig_alg(oid: str) -> dict[str, Any]:
    return {"algorithm": oid, "parameters": core.Null()}


def _signed(tbs_der: bytes, key: KeyPair) -> bytes:
    """SEQUENCE { tbs, algorithm, BIT STRING signature }, by hand (see ``der.encoded``)."""
    alg = algos.SignedDigestAlgorithm(_sig_alg(key.signature_oid)).dump()
    return tlv(0x30, tbs_der + alg + tlv(0x03, b"\x00" + key.sign(tbs_der)))


# --- certificates --------------------------------------------------------------------------------
def _name(attrs: list[tuple[str, str]]) -> x509.Name:
    """A name with one attribute per RDN in the given order (as NCA RK writes them)."""
    printable = {oids.SERIAL_NUMBER, oids.COUNTRY}
    rdns = []
    for oid, value in attrs:
        v = core.PrintableString(value) if oid in printable else core.UTF8String(value)
        rdns.append(
            x509.RelativeDistinguishedName(
                [x509.NameTypeAndValue({"type": oid, "value": core.Any.load(v.dump())})]
            )
        )
    return x509.Name(name="", value=x509.RDNSequence(rdns))


@dataclass
class IssuedCert:
    name: str
    der: bytes
    key: KeyPair

    @property
    def asn1(self) -> x509.Certificate:
        return x509.Certificate.load(self.der)


def issue(
    *,
    subject: list[tuple[str, str]],
    key: KeyPair,
    issuer: IssuedCert | None,
    issuer_key: KeyPair,
    not_before: datetime,
    not_after: datetime,
    ca: bool = False,
    path_len: int | None = None,
    key_usage: set[str],
    eku: list[str] = (),  # type: ignore[assignment]
    policies: list[str] = (),  # type: ignore[assignment]
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    ca_issuers_url: str | None = None,
    serial: int | None = None,
    issuer_name: x509.Name | None = None,
) -> bytes:
    """One certificate, signed by ``issuer_key`` (the subject's own key for a root)."""
    spki = key.spki()
    subject_name = _name(subject)
    if issuer_name is None:
        issuer_name = issuer.asn1.subject if issuer is not None else subject_name
    extensions: list[dict[str, Any]] = [
        {"extn_id": "key_usage", "critical": True, "extn_value": x509.KeyUsage(key_usage)},
    ]
    if ca:
        extensions.append(
            {
                "extn_id": "basic_constraints",
                "critical": True,
                "extn_value": {"ca": True, "path_len_constraint": path_len},
            }
        )
    if eku:
        extensions.append(
            {"extn_id": "extended_key_usage", "critical": False, "extn_value": list(eku)}
        )
    if policies:
        extensions.append(
            {
                "extn_id": "certificate_policies",
                "critical": False,
                "extn_value": [
                    {
                        "policy_identifier": p,
                        "policy_qualifiers": [
                            {
                                "policy_qualifier_id": "certification_practice_statement",
                                "qualifier": oids.CPS_URL,
                            }
                        ],
                    }
                    for p in policies
                ],
            }
        )
    extensions.append({"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(spki)})
    issuer_spki = issuer_key.spki()
    extensions.append(
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": _key_id(issuer_spki)},
        }
    )
    if crl_url:
        extensions.append(
            {
                "extn_id": "crl_distribution_points",
                "critical": False,
                "extn_value": [
                    {
                        "distribution_point": {
                            "full_name": [
                                x509.GeneralName(name="uniform_resource_identifier", value=crl_url)
                            ]
                        }
                    }
                ],
            }
        )
    access = []
    if ocsp_url:
        access.append(
            {
                "access_method": "ocsp",
                "access_location": x509.GeneralName(
                    name="uniform_resource_identifier", value=ocsp_url
                ),
            }
        )
    if ca_issuers_url:
        access.append(
            {
                "access_method": "ca_issuers",
                "access_location": x509.GeneralName(
                    name="uniform_resource_identifier", value=ca_issuers_url
                ),
            }
        )
    if access:
        extensions.append(
            {"extn_id": "authority_information_access", "critical": False, "extn_value": access}
        )
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial or secrets.randbits(150) | (1 << 152),
            "signature": _sig_alg(issuer_key.signature_oid),
            "issuer": issuer_name,
            "validity": {
                "not_before": x509.Time(name="utc_time", value=not_before),
                "not_after": x509.Time(name="utc_time", value=not_after),
            },
            "subject": subject_name,
            "subject_public_key_info": keys.PublicKeyInfo.load(spki),
            "extensions": extensions,
        }
    )
    return _signed(tbs.dump(), issuer_key)


def make_crl(
    *,
    issuer: IssuedCert,
    revoked: list[tuple[int, datetime, str | None]],
    this_update: datetime,
    next_update: datetime,
    number: int = 1,
) -> bytes:
    """A CRL of ``issuer`` listing ``revoked`` (serial, revocation time, reason)."""
    entries = []
    for serial, when, reason in revoked:
        entry: dict[str, Any] = {
            "user_certificate": serial,
            "revocation_date": x509.Time(name="utc_time", value=when),
        }
        if reason:
            entry["crl_entry_extensions"] = [
                {"extn_id": "crl_reason", "critical": False, "extn_value": crl.CRLReason(reason)}
            ]
        entries.append(entry)
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": _sig_alg(issuer.key.signature_oid),
            "issuer": issuer.asn1.subject,
            "this_update": x509.Time(name="utc_time", value=this_update),
            "next_update": x509.Time(name="utc_time", value=next_update),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                {"extn_id": "crl_number", "critical": False, "extn_value": number},
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": _key_id(issuer.key.spki())},
                },
            ],
        }
    )
    return _signed(tbs.dump(), issuer.key)


# --- the test PKI --------------------------------------------------------------------------------
@dataclass
class LeafSpec:
    name: str
    family: str  # rsa | gost | gost256
    ca_family: str  # whose CAs issue it: rsa | gost
    ca: str  # individuals | legal | rogue
    holder: str  # individual | legal_entity_head | legal_entity_employee
    purpose: str  # signing | authentication
    state: str = "valid"  # valid | expired | not_yet_valid | revoked | rogue
    iin: str = ""
    bin: str | None = None
    roles: list[str] = field(default_factory=list)


def _random_id() -> str:
    return f"{secrets.randbelow(10**12):012d}"


def default_leaves(bin_: str) -> list[LeafSpec]:
    out: list[LeafSpec] = []
    for fam in ("rsa", "gost"):
        out += [
            LeafSpec(
                f"{fam}-individual-sign",
                fam,
                fam,
                "individuals",
                "individual",
                "signing",
                roles=["individual"],
            ),
            LeafSpec(
                f"{fam}-individual-auth",
                fam,
                fam,
                "individuals",
                "individual",
                "authentication",
                roles=["individual"],
            ),
            LeafSpec(
                f"{fam}-head-sign",
                fam,
                fam,
                "legal",
                "legal_entity_head",
                "signing",
                bin=bin_,
                roles=["organization", "ceo"],
            ),
            LeafSpec(
                f"{fam}-signer-sign",
                fam,
                fam,
                "legal",
                "legal_entity_employee",
                "signing",
                bin=bin_,
                roles=["organization", "can_sign"],
            ),
            LeafSpec(
                f"{fam}-employee-sign",
                fam,
                fam,
                "legal",
                "legal_entity_employee",
                "signing",
                bin=bin_,
                roles=["organization", "employee"],
            ),
            LeafSpec(
                f"{fam}-employee-auth",
                fam,
                fam,
                "legal",
                "legal_entity_employee",
                "authentication",
                bin=bin_,
                roles=["organization", "employee"],
            ),
            LeafSpec(
                f"{fam}-expired-sign",
                fam,
                fam,
                "individuals",
                "individual",
                "signing",
                "expired",
                roles=["individual"],
            ),
            LeafSpec(
                f"{fam}-not-yet-valid-sign",
                fam,
                fam,
                "individuals",
                "individual",
                "signing",
                "not_yet_valid",
                roles=["individual"],
            ),
            LeafSpec(
                f"{fam}-revoked-sign",
                fam,
                fam,
                "individuals",
                "individual",
                "signing",
                "revoked",
                roles=["individual"],
            ),
            LeafSpec(
                f"{fam}-rogue-sign",
                fam,
                fam,
                "rogue",
                "individual",
                "signing",
                "rogue",
                roles=["individual"],
            ),
        ]
    out.append(
        LeafSpec(
            "gost256-individual-sign",
            "gost256",
            "gost",
            "individuals",
            "individual",
            "signing",
            roles=["individual"],
        )
    )
    return out


def _subject(spec: LeafSpec, org: str) -> list[tuple[str, str]]:
    cn = f"ТЕСТОВ {spec.name.upper()}"
    attrs = [
        (oids.CN, cn),
        (oids.SURNAME, "ТЕСТОВ"),
        (oids.SERIAL_NUMBER, f"IIN{spec.iin}"),
        (oids.COUNTRY, "KZ"),
    ]
    if spec.bin:
        attrs += [(oids.ORGANIZATION, org), (oids.ORGANIZATIONAL_UNIT, f"BIN{spec.bin}")]
    attrs.append((oids.GIVEN_NAME, "ТЕСТОВИЧ"))
    return attrs


def _leaf_profile(spec: LeafSpec) -> tuple[set[str], list[str], list[str]]:
    legal = spec.holder != "individual"
    if spec.purpose == "signing":
        ku = {"digital_signature", "non_repudiation"}
        eku = [oids.EKU_EMAIL_PROTECTION]
        policy = oids.POLICY_LEGAL_SIGN if legal else oids.POLICY_INDIVIDUAL_SIGN
    else:
        ku = {"digital_signature", "key_encipherment"}
        eku = [oids.EKU_CLIENT_AUTH]
        policy = oids.POLICY_LEGAL_AUTH if legal else oids.POLICY_INDIVIDUAL_AUTH
    eku += [oids.ROLE_OIDS[r] for r in spec.roles]
    return ku, eku, [policy]


@dataclass
class TestPki:
    """A test PKI on disk: ``ca/`` anchors, ``crl/`` CRLs, ``certs/`` leaves, ``manifest.json``."""

    folder: Path
    manifest: dict[str, Any]

    __test__ = False  # not a pytest class

    @classmethod
    def load(cls, folder: Path) -> TestPki:
        return cls(folder, json.loads((folder / "manifest.json").read_text()))

    def cert(self, name: str) -> bytes:
        return (self.folder / "certs" / f"{name}.cer").read_bytes()

    def key(self, name: str) -> KeyPair:
        leaf = self.manifest["leaves"][name]
        return KeyPair.load(self.folder / "certs" / f"{name}.key", leaf["family"])

    def ca_cert(self, name: str) -> bytes:
        return (self.folder / "ca" / f"{name}.cer").read_bytes()

    def ca_key(self, name: str) -> KeyPair:
        return KeyPair.load(
            self.folder / "private" / f"{name}.key", self.manifest["cas"][name]["family"]
        )

    def anchors(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted((self.folder / "ca").glob("*.cer"))]

    def crls(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted((self.folder / "crl").glob("*.crl"))]

    def leaf(self, name: str) -> dict[str, Any]:
        return dict(self.manifest["leaves"][name])

    def issue_leaf(
        self,
        name: str,
        *,
        family: str = "rsa",
        holder: str = "legal_entity_head",
        purpose: str = "signing",
        bin: str | None = None,
        iin: str | None = None,
        roles: list[str] | None = None,
    ) -> bytes:
        """Issue one more end-entity certificate (e.g. for another BIN) and add it to the folder."""
        ca_family = "gost" if family.startswith("gost") else "rsa"
        ca = "individuals" if holder == "individual" else "legal"
        if roles is None:
            roles = {
                "individual": ["individual"],
                "legal_entity_head": ["organization", "ceo"],
            }.get(holder, ["organization", "can_sign"])
        spec = LeafSpec(
            name,
            family,
            ca_family,
            ca,
            holder,
            purpose,
            iin=iin or _random_id(),
            bin=bin,
            roles=roles,
        )
        issuer_name = f"{ca_family}-{ca}"
        issuer = IssuedCert(issuer_name, self.ca_cert(issuer_name), self.ca_key(issuer_name))
        now = datetime.now(UTC)
        der, key = _issue_leaf(
            spec, issuer, now - timedelta(days=1), now + timedelta(days=365), self.manifest
        )
        (self.folder / "certs" / f"{name}.cer").write_bytes(der)
        key.save(self.folder / "certs" / f"{name}.key")
        self.manifest["leaves"][name] = {**asdict(spec), "file": f"certs/{name}.cer"}
        (self.folder / "manifest.json").write_text(
            json.dumps(self.manifest, indent=2, ensure_ascii=False)
        )
        return der


def _issue_leaf(
    spec: LeafSpec,
    issuer: IssuedCert,
    nb: datetime,
    na: datetime,
    manifest: dict[str, Any],
    issuer_name: x509.Name | None = None,
) -> tuple[bytes, KeyPair]:
    key = KeyPair.generate(spec.family)
    ku, eku, policies = _leaf_profile(spec)
    base = manifest.get("crl_base_url", "")
    der = issue(
        subject=_subject(spec, manifest.get("organization", 'АО "ТЕСТ"')),
        key=key,
        issuer=issuer,
        issuer_key=issuer.key,
        not_before=nb,
        not_after=na,
        key_usage=ku,
        eku=eku,
        policies=policies,
        crl_url=f"{base}/{issuer.name}.crl" if base else None,
        ocsp_url=manifest.get("ocsp_url"),
        issuer_name=issuer_name,
    )
    return der, key


def build_test_pki(
    folder: Path,
    *,
    bin: str | None = None,
    crl_base_url: str | None = None,
    ocsp_url: str | None = None,
    now: datetime | None = None,
) -> TestPki:
    """Make the whole test PKI in ``folder`` (created if missing) and return it."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    bin_ = bin or _random_id()
    for sub in ("ca", "crl", "certs", "private"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "created_at": now.isoformat(),
        "bin": bin_,
        "organization": 'АО "ТЕСТ ЭНЕРГО"',
        "crl_base_url": crl_base_url,
        "ocsp_url": ocsp_url,
        "cas": {},
        "leaves": {},
    }
    cas: dict[str, IssuedCert] = {}
    for fam in ("rsa", "gost"):
        label = "RSA" if fam == "rsa" else "GOST"
        root_key = KeyPair.generate(fam)
        root_subject = [(oids.CN, CA_NAMES["root"].format(family=label)), (oids.COUNTRY, "KZ")]
        root_der = issue(
            subject=root_subject,
            key=root_key,
            issuer=None,
            issuer_key=root_key,
            not_before=now - timedelta(days=10 * 365),
            not_after=now + timedelta(days=20 * 365),
            ca=True,
            key_usage={"key_cert_sign", "crl_sign"},
            policies=[oids.POLICY_NCA],
        )
        root = cas[f"{fam}-root"] = IssuedCert(f"{fam}-root", root_der, root_key)
        for kind in ("individuals", "legal"):
            k = KeyPair.generate(fam)
            der = issue(
                subject=[(oids.CN, CA_NAMES[kind].format(family=label)), (oids.COUNTRY, "KZ")],
                key=k,
                issuer=root,
                issuer_key=root_key,
                not_before=now - timedelta(days=9 * 365),
                not_after=now + timedelta(days=10 * 365),
                ca=True,
                path_len=0,
                key_usage={"key_cert_sign", "crl_sign"},
                policies=[oids.POLICY_NCA],
                crl_url=f"{crl_base_url}/{fam}-root.crl" if crl_base_url else None,
            )
            cas[f"{fam}-{kind}"] = IssuedCert(f"{fam}-{kind}", der, k)
        # a rogue CA: the same name as the real one for individuals, its own key (FCALayer's trick)
        rk = KeyPair.generate(fam)
        real = cas[f"{fam}-individuals"]
        rogue_der = issue(
            subject=[(oids.CN, CA_NAMES["individuals"].format(family=label)), (oids.COUNTRY, "KZ")],
            key=rk,
            issuer=None,
            issuer_key=rk,
            not_before=now - timedelta(days=30),
            not_after=now + timedelta(days=3650),
            ca=True,
            key_usage={"key_cert_sign", "crl_sign"},
            issuer_name=real.asn1.subject,
        )
        cas[f"{fam}-rogue"] = IssuedCert(f"{fam}-rogue", rogue_der, rk)
    for name, c in cas.items():
        target = folder / ("private" if name.endswith("rogue") else "ca") / f"{name}.cer"
        target.write_bytes(c.der)
        c.key.save(folder / "private" / f"{name}.key")
        manifest["cas"][name] = {
            "family": name.split("-")[0],
            "file": str(target.relative_to(folder)),
        }
    revoked: dict[str, list[tuple[int, datetime, str | None]]] = {n: [] for n in cas}
    for spec in default_leaves(bin_):
        spec.iin = _random_id()
        issuer = cas[f"{spec.ca_family}-{spec.ca}"]
        nb, na = now - timedelta(days=30), now + timedelta(days=365)
        if spec.state == "expired":
            nb, na = now - timedelta(days=730), now - timedelta(days=365)
        elif spec.state == "not_yet_valid":
            nb, na = now + timedelta(days=30), now + timedelta(days=395)
        der, key = _issue_leaf(spec, issuer, nb, na, manifest)
        (folder / "certs" / f"{spec.name}.cer").write_bytes(der)
        key.save(folder / "certs" / f"{spec.name}.key")
        serial = x509.Certificate.load(der).serial_number
        if spec.state == "revoked":
            revoked[issuer.name].append((serial, now - timedelta(days=10), "key_compromise"))
        manifest["leaves"][spec.name] = {
            **asdict(spec),
            "serial": format(serial, "x"),
            "file": f"certs/{spec.name}.cer",
        }
    for name, c in cas.items():
        if name.endswith("rogue"):
            continue
        der = make_crl(
            issuer=c,
            revoked=revoked[name],
            this_update=now - timedelta(hours=1),
            next_update=now + timedelta(days=7),
        )
        (folder / "crl" / f"{name}.crl").write_bytes(der)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return TestPki(folder, manifest)


# --- CMS, the way Kalkan writes it ---------------------------------------------------------------
def sign_cms(
    content: bytes,
    signers: list[tuple[bytes, KeyPair]],
    *,
    detached: bool = False,
    signing_time: datetime | None = None,
    signed_attributes: bool = True,
    digest_oid: str | None = None,
    corrupt_signature: bool = False,
    extra_certificates: list[bytes] = (),  # type: ignore[assignment]
    extra_attributes: int = 0,
) -> bytes:
    """A CMS SignedData over ``content`` by each (certificate DER, key) in ``signers``."""
    when = (signing_time or datetime.now(UTC)).replace(microsecond=0)
    infos = []
    digest_algs: list[str] = []
    for cert_der, key in signers:
        cert = x509.Certificate.load(cert_der)
        d_oid = digest_oid or key.digest_oid
        if d_oid not in digest_algs:
            digest_algs.append(d_oid)
        attrs_der = None
        if signed_attributes:
            attrs = [
                cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
                cms.CMSAttribute(
                    {"type": "signing_time", "values": [cms.Time(name="utc_time", value=when)]}
                ),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [_digest_any(d_oid, content)]}
                ),
            ]
            attrs += [
                cms.CMSAttribute(
                    {"type": f"1.2.398.99.{i}", "values": [core.Any.load(core.Null().dump())]}
                )
                for i in range(extra_attributes)
            ]
            attrs.sort(key=lambda a: a.dump())  # DER order of a SET OF
            signed_attrs = cms.CMSAttributes(attrs)
            attrs_der = signed_attrs.dump()
            signature = key.sign(attrs_der)
        else:
            signature = key.sign(content)
        if corrupt_signature:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        info: dict[str, Any] = {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={
                    "issuer": x509.Name.load(encoded(cert["tbs_certificate"]["issuer"])),
                    "serial_number": cert.serial_number,
                },
            ),
            "digest_algorithm": {"algorithm": d_oid, "parameters": core.Null()},
            "signature_algorithm": _sig_alg(key.signature_oid),
            "signature": signature,
        }
        if attrs_der is not None:
            info["signed_attrs"] = cms.CMSAttributes.load(attrs_der)
        infos.append(cms.SignerInfo(info).dump())
    cert_ders = [c for c, _ in signers] + list(extra_certificates)
    digest_set = sorted(
        algos.DigestAlgorithm({"algorithm": d, "parameters": core.Null()}).dump()
        for d in digest_algs
    )
    encap = tlv(0x06, _oid(oids.DATA))
    if not detached:
        encap += tlv(0xA0, tlv(0x04, content))
    # SignedData assembled by hand so that embedded certificates keep their exact bytes
    signed_data = tlv(
        0x30,
        tlv(0x02, b"\x01")
        + tlv(0x31, b"".join(digest_set))
        + tlv(0x30, encap)
        + tlv(0xA0, b"".join(sorted(cert_ders)))
        + tlv(0x31, b"".join(sorted(infos))),
    )
    return tlv(0x30, tlv(0x06, _oid(oids.SIGNED_DATA)) + tlv(0xA0, signed_data))


def _oid(dotted: str) -> bytes:
    return contents_of(core.ObjectIdentifier(dotted).dump())


def _digest_any(oid: str, data: bytes) -> bytes:
    import hashlib

    if oid == oids.SHA1:
        return hashlib.sha1(data).digest()  # noqa: S324 - only to make the "unsupported" negative case
    return compute_digest(oid, data)
