"""Images: the content they are made of (layers, configs), how they enter the store
(load, import, built-in), and how a reference finds one."""
