"""Object identifiers of NCA RK (arc 1.2.398) and the standard ones the verifier needs.

Sources: NCA RK test certificates and Kalkan-made CMS (see ``../shared/reference/kz-eds.md`` §1).
"""

from __future__ import annotations

# Digests
SHA256 = "2.16.840.1.101.3.4.2.1"
SHA384 = "2.16.840.1.101.3.4.2.2"
SHA512 = "2.16.840.1.101.3.4.2.3"
SHA1 = "1.3.14.3.2.26"
KZ_STREEBOG_512 = "1.2.398.3.10.1.3.3"  # GOST 34.11-2015, 512 bit, as Kalkan writes it
KZ_STREEBOG_256 = "1.2.398.3.10.1.3.2"  # assumed by analogy; not seen on NCA data
TC26_STREEBOG_256 = "1.2.643.7.1.1.2.2"
TC26_STREEBOG_512 = "1.2.643.7.1.1.2.3"

# Signature and key algorithms
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
SHA384_WITH_RSA = "1.2.840.113549.1.1.12"
SHA512_WITH_RSA = "1.2.840.113549.1.1.13"
SHA1_WITH_RSA = "1.2.840.113549.1.1.5"
RSASSA_PSS = "1.2.840.113549.1.1.10"
KZ_GOST2015_KEY = "1.2.398.3.10.1.1.2.2"  # GOST 34.10-2015 public key
KZ_GOST2015_512_PARAMSET_A = "1.2.398.3.10.1.1.2.2.1"  # = id-tc26-gost-3410-12-512-paramSetA
KZ_GOST2015_256_SIG = "1.2.398.3.10.1.1.2.3.1"
KZ_GOST2015_512_SIG = "1.2.398.3.10.1.1.2.3.2"
KZ_GOST2004_KEY = "1.2.398.3.10.1.1.1.1"  # GOST 34.310-2004 (legacy): not verified
KZ_GOST2004_SIG = "1.2.398.3.10.1.1.1.2"
TC26_GOST2012_256_KEY = "1.2.643.7.1.1.1.1"
TC26_GOST2012_512_KEY = "1.2.643.7.1.1.1.2"

# Curve parameter sets -> names in gostcrypto's table of RFC 1323565.1.024-2019 curves
CURVE_BY_PARAMSET = {
    KZ_GOST2015_512_PARAMSET_A: "id-tc26-gost-3410-12-512-paramSetA",
    "1.2.643.7.1.2.1.2.1": "id-tc26-gost-3410-12-512-paramSetA",
    "1.2.643.7.1.2.1.2.2": "id-tc26-gost-3410-12-512-paramSetB",
    "1.2.643.7.1.2.1.2.3": "id-tc26-gost-3410-2012-512-paramSetC",
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-A
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro-B
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-C
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-XchA
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-XchB
}
TC26_256_PARAMSET_A = "1.2.643.7.1.2.1.1.1"

# CMS
DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
ATTR_TIMESTAMP_TOKEN = "1.2.840.113549.1.9.16.2.14"  # noqa: S105 - an OID

# X.509 subject attributes
CN = "2.5.4.3"
SURNAME = "2.5.4.4"
SERIAL_NUMBER = "2.5.4.5"
COUNTRY = "2.5.4.6"
LOCALITY = "2.5.4.7"
STATE = "2.5.4.8"
ORGANIZATION = "2.5.4.10"
ORGANIZATIONAL_UNIT = "2.5.4.11"
GIVEN_NAME = "2.5.4.42"
EMAIL = "1.2.840.113549.1.9.1"

# Extended key usage
EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
EKU_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
EKU_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"

# NCA RK roles carried in ExtendedKeyUsage (arc 1.2.398.3.3.4)
ROLES = {
    "1.2.398.3.3.4.1.1": "individual",
    "1.2.398.3.3.4.1.1.1": "individual_information_system",
    "1.2.398.3.3.4.1.2": "organization",
    "1.2.398.3.3.4.1.2.1": "ceo",
    "1.2.398.3.3.4.1.2.2": "can_sign",
    "1.2.398.3.3.4.1.2.3": "can_sign_financial",
    "1.2.398.3.3.4.1.2.4": "hr",
    "1.2.398.3.3.4.1.2.5": "employee",
    "1.2.398.3.3.4.1.2.6": "organization_information_system",
    "1.2.398.3.3.4.2": "nca_privileges",
    "1.2.398.3.3.4.2.1": "nca_admin",
    "1.2.398.3.3.4.2.2": "nca_manager",
    "1.2.398.3.3.4.2.3": "nca_operator",
    "1.2.398.3.3.4.3": "identification",
    "1.2.398.3.3.4.3.1": "identification_in_person",
    "1.2.398.3.3.4.3.2": "identification_remote",
    "1.2.398.3.3.4.3.2.1": "identification_remote_digital_id",
}
ROLE_OIDS = {v: k for k, v in ROLES.items()}

# NCA RK certificate policies
POLICY_LEGAL_SIGN = "1.2.398.3.3.2.1"
POLICY_LEGAL_AUTH = "1.2.398.3.3.2.2"
POLICY_INDIVIDUAL_SIGN = "1.2.398.3.3.2.3"
POLICY_INDIVIDUAL_AUTH = "1.2.398.3.3.2.4"
POLICY_NCA = "1.2.398.3.3.2"
CPS_URL = "http://pki.gov.kz/cps"
