"""Pure helpers every layer may use: paths, ids, names, sizes, times, files, JSON.

Nothing here touches the store or the kernel beyond plain file operations.
"""
