"""Limits on what the package reads: files and images checked before they are opened or decoded.

A regular file under its size cap, a path of a sane length (files.py); an image's size read from
its header and held to a pixel budget before it is decoded (images.py). Every reader of user
files (models, metadata, images, parameter files, recordings) goes through these.
"""
