"""Client faces: one module per dialect. A face knows HTTP and its dialect, nothing of upstreams."""
