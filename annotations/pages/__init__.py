"""Server-rendered pages, thin: check the role, call a service or selector, render."""
