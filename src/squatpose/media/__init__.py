"""Media on the ground floor: reading video (frame times, prefetch, cut-off files) and images (size checks,
corrupt JPEGs), writing video browsers play, figures to PNG. Errors name the file and the problem."""
