"""The compiler: a checked plan to Python functions (render, changes for PATCH), and the
compile cache that keeps plans as data.
"""
