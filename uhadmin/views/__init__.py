"""Qt windows, widgets and table models; they call services and see frozen domain objects."""
