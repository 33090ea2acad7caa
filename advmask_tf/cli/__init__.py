"""absl applications behind the bin/ launchers."""
