"""Platform clients: plain Python, no ``bpy``. ``registry`` maps ids to classes."""
