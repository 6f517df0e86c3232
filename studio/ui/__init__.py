"""The Qt layer: widgets over the pure-Python core."""
