"""Going live: streaming to a Livepeer box and playing back what it sends."""
