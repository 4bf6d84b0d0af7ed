"""The compiler: a checked plan to Python functions (render, render_update, changes for
PATCH), and the compile cache that keeps checked plans as data.

May import the language and the shared core; never the runtime or a product.
"""
