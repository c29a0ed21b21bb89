"""Model ids as a provider's API spells them, and the names to look them up by in the catalog.

AWS Bedrock calls a model by its id (`anthropic.claude-sonnet-4-20250514-v1:0`), by a
cross-region inference profile (the id with a geography prefix: `us.`, `eu.`, `apac.`,
`jp.`, `au.`, `ca.`, `us-gov.`, or `global.`) or by the ARN of either. The catalog lists
the ids, some geographic profiles, and the global profiles (priced apart: for newer
Anthropic models a regional profile costs 10% more than a global one). So a Bedrock name
is tried as given first, then as the id its ARN names, then without a geography prefix:
AWS bills a geographic profile at the in-region price, which is what the catalog keeps
under the model's own id. `global.` is never dropped (a global price is not the in-region
one), and ARNs that name no model (application inference profiles, provisioned
throughput, custom models) find nothing: such calls stay unpriced unless the price book
names them.
"""
from __future__ import annotations

import re

# arn:aws[-cn|-us-gov]:bedrock:<region>:<account>:<resource type>/<id>
_BEDROCK_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:(?:foundation-model|inference-profile|system-defined-inference-profile)/"
    r"(?P<id>.+)$")
_GEOGRAPHY = re.compile(r"^(?:us-gov|us|eu|apac|jp|au|ca)\.")


def bedrock_names(name: str) -> list[str]:
    """`name`, then the model id it stands for (see the module docstring)."""
    names = [name]
    arn = _BEDROCK_ARN.match(name)
    if arn:
        names.append(arn["id"])
    bare = _GEOGRAPHY.sub("", names[-1], count=1)
    if bare != names[-1]:
        names.append(bare)
    return names
