"""`nozama registry`: Docker Distribution serving ECR's images, behind an HAProxy front and
a gate that issues registry tokens to ECR keys and records pushes in the store."""
