"""hotline: a contact-centre server for China's 12345 government service hotlines."""

__version__ = "0.1.0"
