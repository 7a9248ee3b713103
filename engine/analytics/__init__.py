"""Campaign analytics: the figures, the attribution model and the series, from stored facts."""
