"""Voice: the keypad and speech menu for members who call, and outbound calls."""
