"""``escai demo``: an embedded server and scripted agents, to see ESCAI work in a minute with no setup."""
