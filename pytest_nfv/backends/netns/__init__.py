"""The netns backend (the default): VNF instances as Linux network namespaces with a process.

``backend`` drives them on the run's switch (``backends.shared.switch``).
"""
