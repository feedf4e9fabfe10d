"""Imports every module that defines tables, so migrations see the whole schema."""

from bots.adt import models as adt_models  # noqa: F401
from bots.common import models as care_room_models  # noqa: F401
from bots.dashboard import models as dashboard_models  # noqa: F401
from bots.discharge import models as discharge_models  # noqa: F401
from bots.episode import models as episode_models  # noqa: F401
from bots.followup import models as followup_models  # noqa: F401
from bots.runtime import models as runtime_models  # noqa: F401
from bridge import models as bridge_models  # noqa: F401
