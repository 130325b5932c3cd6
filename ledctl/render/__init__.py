"""Pure rendering: bulletins and notices become pages at a board's exact size and colours."""
