"""End to end: real browsers, the demo, the delivered folder."""
