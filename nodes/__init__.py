"""mixgraph's node catalogue.

Importing this package registers every built-in node type.  A node is declared by
its class (type name, ports, parameter table) and processes ``(channels, frames)``
float64 blocks; see :mod:`mixgraph.nodes.base`.  Nodes raise the errors of
:mod:`mixgraph.errors`.
"""

# registration order is the catalogue's order
from . import sources  # noqa: F401, I001
from . import mixing  # noqa: F401
from . import eq  # noqa: F401
from . import dynamics  # noqa: F401
from . import space  # noqa: F401
from . import master  # noqa: F401
from . import meters  # noqa: F401
from . import output  # noqa: F401
from . import surround  # noqa: F401
from . import pitch  # noqa: F401
from .base import (Context, Node, Param, Port, Sink, node_class, node_types, register,
                   unregister)

__all__ = [
    "Context", "Node", "Param", "Port", "Sink", "node_class", "node_types", "register",
    "unregister",
]
