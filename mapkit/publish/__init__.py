"""Publishing a built dataset folder: the dataset card (``card``), the Hub revision
(``hub``, what `mapkit push` calls) and exports for other trainers (``export``).
Each reads the folder through ``mapkit.dataset``; none writes into it except the card."""
