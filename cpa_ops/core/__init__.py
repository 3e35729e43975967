"""What the platform's services import: no Typer, no Rich; returns values, never prints."""
