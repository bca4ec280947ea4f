"""glue: real-time crypto volatility detection on the Coinbase Advanced Trade feed.

The package is the library; `glue.cli` is a thin click front end over it.
"""

__version__ = "0.1.0"
