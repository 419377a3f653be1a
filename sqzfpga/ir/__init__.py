"""Types and arithmetic that the frontend and both backends share (fixed-point types, exact widths)."""
