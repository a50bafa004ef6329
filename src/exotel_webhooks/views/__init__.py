"""The read API: its answers (campaigns.py) and its HTTP routes (http.py)."""
