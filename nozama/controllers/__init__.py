"""Controllers: the control plane's loops and the rules that move tasks between states."""
