"""The project's files: the checked .npz reader/writer, parameters, inputs, datasets, locks."""
